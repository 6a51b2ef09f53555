/*
 * TIMMessageManager.h: the message JSON keys the conversation module reads (last messages,
 * drafts) and the element types.
 *
 * A message is a JSON object of `message_*` keys; the conversation module reads the keys below
 * and keeps every other key as it came.
 */
#ifndef TIM_MESSAGE_MANAGER_H_
#define TIM_MESSAGE_MANAGER_H_

#include "TIMCloudDef.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types (elem_type). */
enum TIMElemType {
    kTIMElem_Text = 0,
    kTIMElem_Image = 1,
    kTIMElem_Sound = 2,
    kTIMElem_Custom = 3,
    kTIMElem_File = 4,
    kTIMElem_GroupTips = 5,
    kTIMElem_Face = 6,
    kTIMElem_Location = 7,
    kTIMElem_GroupReport = 8,
    kTIMElem_Video = 9,
    kTIMElem_FriendChange = 10,
    kTIMElem_ProfileChange = 11,
    kTIMElem_Merge = 12,
    kTIMElem_Invalid = -1
};
typedef enum TIMElemType TIMElemType;

/* Elem */
static const char* kTIMElemType TIM_UNUSED_KEY = "elem_type";                 /* uint TIMElemType */
static const char* kTIMTextElemContent TIM_UNUSED_KEY = "text_elem_content";  /* string */

/* Message */
static const char* kTIMMsgElemArray TIM_UNUSED_KEY = "message_elem_array";    /* array of Elem */
static const char* kTIMMsgConvId TIM_UNUSED_KEY = "message_conv_id";          /* string, raw ID */
static const char* kTIMMsgConvType TIM_UNUSED_KEY = "message_conv_type";      /* uint TIMConvType */

#ifdef __cplusplus
}
#endif

#endif /* TIM_MESSAGE_MANAGER_H_ */
